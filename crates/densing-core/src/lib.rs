//! densing-core: the math of capability density, free of any inference engine.
