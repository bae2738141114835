from openmem_letta._provider import LettaProvider
__all__=["LettaProvider"]
