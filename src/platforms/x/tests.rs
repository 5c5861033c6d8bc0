//! Wire tests of the X connector.
