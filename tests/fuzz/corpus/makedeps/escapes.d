x.o: a\ b.h c\#d.h $$e.h \
  f.h\