"""outreach: milestone-countdown email outreach for advocacy campaigns.

The pipeline, in the order mail flows (one module per stage):
settings · clock · states · models · db · repository · campaigns · contacts · countdown ·
templating · planner · review · compose · dispatch · replies · funnel · operations · daemon ·
demo · cli.
"""

__version__ = "0.1.0"
