#ifndef OBI_VERSION_H
#define OBI_VERSION_H
#define OBI_VERSION "0.1.0"
#endif
