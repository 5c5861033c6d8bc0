//! Wire tests of the Salesforce connector.
