"""The trial's data out in the standards a sponsor or regulator reads: CDISC ODM 1.3.2 (study metadata, clinical
data with audit records and signatures) and SDTM-shaped datasets (CSV, SAS transport v5, define.xml 2.1).

Pure mapping functions from the protocol definition, the command registry and the record's events (no clock, no
record access: the facade reads the record and passes its events and the time); only sdtm_files.py touches files,
writing the transport files in a temporary folder. The API and the CLI serve what these build.
"""
