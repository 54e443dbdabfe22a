#include "CDmoverBench.h"
