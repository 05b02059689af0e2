"""Models: the catalogue of every model by id with its licence and SHA-256, and how each is resolved
(`catalog`), downloaded (`fetch`) and converted (`convert`)."""
