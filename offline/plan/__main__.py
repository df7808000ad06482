"""`python -m offline.plan <stack> ...`: see offline/plan/__init__.py."""

import sys

from offline.plan import main

sys.exit(main())
