//! The process `Pool`. Not built yet: issue 5.
