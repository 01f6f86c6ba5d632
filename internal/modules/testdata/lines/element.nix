{ ... }:
{
  services.foo.name = "x";
  services.foo.users.alice.uid = 1;
  services.foo.users.bob.uid = "not a number"; # def
}
