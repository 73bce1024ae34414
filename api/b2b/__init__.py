"""The B2B portal's HTTP side: how account managers authenticate (`principal`) and the
routes for companies, managers and their keys."""
