"""Reply intake: parse, classify and summarise inbound mail; read it from files or IMAP."""
