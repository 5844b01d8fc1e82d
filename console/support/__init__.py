"""Support's one page per rider (``/admin/support/``): search, the rider page, and its actions (refund, goodwill
credit, force-end, block/unblock, resend receipt, notes). Composed here, in the top layer, from the selectors of
accounts, billing and rides; every write goes through those apps' services (docs/console.md#support)."""
