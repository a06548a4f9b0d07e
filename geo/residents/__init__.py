"""The residents' side of the service map: micro-wishes and micro-projects
(点单-下单-接单), their claims by members and organisations, activities at
positions, and residents' ratings — with personal data only where it belongs.

``workflow`` (the state machine, pure), ``otp`` (one-time codes, the pluggable
sender), ``wishes`` (posting, steps, staff and claimant views, the public wall
and counts), ``ratings``, ``activities`` (near me, iCalendar, the monthly rule),
``ledger`` (the 双微 work ledger) and ``planning`` (wishes per grid cell for
the planner map: open, unclaimed, overdue; aggregates only).
"""
