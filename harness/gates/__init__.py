"""CI gates: the gate file, verdicts from results.json, JUnit output."""
