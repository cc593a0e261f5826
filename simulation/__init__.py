"""A synthetic cohort driven through the protocol on a time-skipping server: `trial-demo` and the benchmark's cohort."""
