"""Redemptions: points and rewards, checkout holds, cancels, automatic redemption settings, fulfilment of rewards."""
