"""The API's routes, one router per area: service, operators, staff, supervisors, audit."""
