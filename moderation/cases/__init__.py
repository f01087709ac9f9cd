"""Escalation to law-enforcement liaisons: cases (service), preservation holds (holds), signed
BagIt evidence packages (evidence, bag, signing), retention by crypto-shredding (retention) and
police requests on the clock (police)."""
