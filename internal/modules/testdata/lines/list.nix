{ ... }:
{
  services.foo.name = "x";
  services.foo.flags = # def
    [ "--a" 1 ];
}
