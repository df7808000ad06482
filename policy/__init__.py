"""container-cicd's CrossGuard policy pack; the rules live in policy/rules/, one module per AWS service."""
