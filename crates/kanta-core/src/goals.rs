//! Goals agreed with the customer: measure, baseline, target, due date, status and
//! dated progress notes; a signed, expiring link that shows them to the customer
//! without signing in.
