//! Issue 13: see kanta-core's module of the same name.
