"""Campaign participation (opt-in enrolments, eligibility listings, progress) and codes
(coupon codes of campaigns, members' referral codes)."""
