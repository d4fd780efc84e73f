"""The test suites: unit tests here, the live stack in live/, the scale-out runs in scale/."""
