"""The operator's command line (`voxiectl`): start, migrate, agents, rooms, gc and doctor."""
