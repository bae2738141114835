"""Drop-in call shapes of other memory SDKs over any openmem provider.

``openmem.compat.mem0``: ``AsyncMemory`` and ``Memory`` with mem0's methods, arguments and
return dicts, so code written for mem0 runs on postgres, the in-memory provider or any OMP
server by changing one import.
"""
