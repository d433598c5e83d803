"""Events: schema and validation, generators (Pythia8 + FastJet), detector, pixelisation, file formats, datasets and caches."""
