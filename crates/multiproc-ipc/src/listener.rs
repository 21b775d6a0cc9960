//! Not built yet (issue 4).
