"""Clinics: invite codes, staff, a clinic's view of its own patients, and its alerts. Every use
case that shows or reaches a patient takes the clinic it acts for and finds only that clinic's
patients: the chat layer passes the clinic of the member of staff asking, never an id from a
button. Invite codes are 192 random bits, shown once and stored only as their SHA-256; each
expires and can be revoked, and staff codes work once."""
