//! Cross-process `Lock`, `RLock`, `Semaphore`, `Condition`, `Event`, `Barrier`, `Value`, `Array`. Not built yet: issue 3.
