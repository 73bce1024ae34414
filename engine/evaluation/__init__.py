"""Evaluation of one request: the input contract, the request parser, earning arithmetic,
redemption eligibility, tiers, the result and its explain trace."""
