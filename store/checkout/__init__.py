"""What checkout systems send: quotes and order commits, refunds, activities."""
