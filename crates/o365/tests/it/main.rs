//! Integration tests of the Office 365 provider against the Graph emulator.
