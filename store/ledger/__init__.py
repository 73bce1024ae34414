"""Members' books and the points ledger: loading a book under the member's lock and persisting what the lifecycle core changed, the member views, expiry."""
