"""Events: schema, generators (Pythia8 + FastJet), detector, pixelisation, readers and cache."""
