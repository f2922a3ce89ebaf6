"""SNP: unplanned care (soins non programmés) inside the Service d'Accès aux Soins."""
