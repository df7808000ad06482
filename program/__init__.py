"""The program's composition: how the stack's settings become component arguments, and which components a stack
and each of its services are made of. `__main__.py` runs it; components never read `Settings` themselves (they take
their own arguments, as pulumi-awsx components and CDK constructs do)."""
