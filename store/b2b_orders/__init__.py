"""Companies' redemption orders of several items (the B2B portal): placing with stock
reservations and one external debit (place.py), approvals, cancellation (cancel.py),
fulfilment of each item (items.py), signed delivery callbacks (callbacks.py), the
background job (job.py)."""
