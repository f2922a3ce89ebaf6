"""Patients without a médecin traitant (MT): the doctors who take new patients, the waiting list of the
patients the SNP flow finds without one, and the matching of the two (docs/mt.md)."""
