//! Themes in the free-text answers, managers' edits to them, and "you said, we did" (issue 13; owner: helper S4).
