//! Sending surveys: waves, the invitation log, the fatigue rules, triggers and reminders (issue 13; owner: helper S2).
