//! The ideas box: staff hand in ideas, managers give them a status and a reply (issue 13; owner: helper S5).
