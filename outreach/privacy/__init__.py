"""Personal data: erasure (GDPR Art. 17), access (Art. 15), retention (Art. 5(1)(e))."""
