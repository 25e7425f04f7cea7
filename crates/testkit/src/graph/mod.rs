//! Emulator of Microsoft identity and Graph mail (being written).
