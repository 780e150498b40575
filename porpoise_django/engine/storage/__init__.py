"""Storage: the key layout, Lua scripts, ids, registries, prepared writes, policy, deletion."""
