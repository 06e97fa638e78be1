// Placeholder replaced by the fetch unit tests.
