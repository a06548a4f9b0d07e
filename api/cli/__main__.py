"""``python -m api.cli``: the ``servicemap`` command."""

import sys

from api.cli import main

sys.exit(main())
