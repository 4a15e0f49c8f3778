//! End-to-end tests of the three services together; everything is under `it/`.
