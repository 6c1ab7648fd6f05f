"""A differential fuzzer for the rule language: random rules (`generate`) run
on every target in one network per batch (`run`), their results compared."""
