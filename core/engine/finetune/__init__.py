"""`bench finetune` as a library: config → resolve → execute (sampler, train, evaluate,
interpolate, state) → report."""
